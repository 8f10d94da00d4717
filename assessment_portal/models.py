from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in: candidate, assessor or administrator."""

    class Role(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ASSESSOR = "assessor", "Assessor"
        ADMINISTRATOR = "administrator", "Administrator"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CANDIDATE)

    @property
    def is_candidate(self):
        return self.role == self.Role.CANDIDATE

    @property
    def is_assessor(self):
        return self.role == self.Role.ASSESSOR

    @property
    def is_administrator(self):
        return self.role == self.Role.ADMINISTRATOR

    def __str__(self):
        return self.get_full_name() or self.username
