Attribute VB_Name = "KpiMacros"
Option Explicit

' The buttons on the indicator sheets and the summary sheet call these macros.
' All the work happens in Python (kpi_xl.excel), run by the xlwings module of this
' workbook with the interpreter named on the hidden sheet "xlwings.conf".
' Keep this file ASCII: the VBA project's code page is 1252, so Thai text lives in
' Python and in the cells, never here.

Public Sub KpiValidate()
    RunPython "import kpi_xl.excel; kpi_xl.excel.validate()"
End Sub

Public Sub KpiSubmit()
    RunPython "import kpi_xl.excel; kpi_xl.excel.submit()"
End Sub

Public Sub KpiClearMarks()
    RunPython "import kpi_xl.excel; kpi_xl.excel.clear_marks()"
End Sub
