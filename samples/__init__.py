"""Sample programs and captures shipped with wfptrace (the MSNP simulator lives here)."""
