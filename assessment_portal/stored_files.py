"""Saving files so that a failure leaves nothing behind, whatever the storage backend.

A storage can fail half-way through a save (a full disk, a dropped connection to
object storage) after part of the file was written. Callers save under a new,
server-made name, so whatever exists under that name afterwards is theirs to remove.
Only the Storage API is used (``save``, ``delete``), so this holds for the file
system and for S3 alike.
"""

import logging

from django.core.files.storage import default_storage

log = logging.getLogger(__name__)


def save_new(name, content, storage=None):
    """Save ``content`` under the new ``name``; if the save fails, delete what it wrote.

    Returns the name the storage used. The name must be fresh (e.g. a UUID), so that a
    failed save never deletes someone else's file.
    """
    storage = storage or default_storage
    try:
        return storage.save(name, content)
    except BaseException:
        delete_quietly([name], storage)
        raise


def delete_quietly(names, storage=None):
    """Delete stored files while cleaning up after a failure: a second failure is logged,
    never raised, so the first one is what the caller sees."""
    storage = storage or default_storage
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            log.exception("could not remove stored file %s after a failure", name)
