"""Spec and sample files shipped with kpi-xl: the form spec and the sample catalog (data, not code)."""
