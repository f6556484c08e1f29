"""Code both services share: settings, logging and bearer-token authentication."""
