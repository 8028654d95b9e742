"""groupwatch: a terminal console for the people who run many chat groups."""
__version__ = "0.1.0"
