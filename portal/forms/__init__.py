"""WTForms forms rendered with GOV.UK widgets."""
