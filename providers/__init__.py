"""Interception providers for wfptrace: packet machinery, inspect and the MSN monitor."""
