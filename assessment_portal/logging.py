import logging
import time


class UTCFormatter(logging.Formatter):
    """Security logs carry UTC times so that events from NZ and AU sites line up."""

    converter = time.gmtime
