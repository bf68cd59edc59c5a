"""The plugin's protocol specs: every *.yaml in this package's directory (advertised in ``agora.protocols``)."""
