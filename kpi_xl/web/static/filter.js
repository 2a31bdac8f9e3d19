/* Filter box for the report's tables: plain JavaScript, no library, works from file://.
   Every <input data-filter="TABLE_ID"> hides the rows of that table whose text lacks what is typed
   (case-insensitive, spaces and Thai tone marks kept as typed) and says how many rows are shown. */
(function () {
  "use strict";
  function apply(input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    if (!table) { return; }
    var words = input.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
    var rows = table.tBodies[0] ? table.tBodies[0].rows : [];
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].textContent.toLowerCase();
      var keep = words.every(function (w) { return text.indexOf(w) !== -1; });
      rows[i].hidden = !keep;
      if (keep) { shown++; }
    }
    var out = document.getElementById("c-" + table.id);
    if (out) { out.textContent = words.length ? "แสดง " + shown + " จาก " + rows.length + " แถว / showing " + shown + " of " + rows.length : ""; }
  }
  var inputs = document.querySelectorAll("input[data-filter]");
  for (var i = 0; i < inputs.length; i++) {
    inputs[i].addEventListener("input", function (e) { apply(e.target); });
    if (inputs[i].value) { apply(inputs[i]); }
  }
}());
