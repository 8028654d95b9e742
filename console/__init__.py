"""groupwatch: a terminal console for the people who run many chat groups."""
__version__ = "0.1.0"
GROUPWATCH_PACKAGE = True  # groupwatch_main checks it: another project's "console" may shadow this one
