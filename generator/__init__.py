"""mta-sts-pages: publish MTA-STS on GitHub Pages from one YAML file."""

__version__ = "1.0.0"
