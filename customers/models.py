from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Team

# NUMERIC(14,2): up to 999,999,999,999.99 per transaction and per customer-month.
AMOUNT_DIGITS = 14
AMOUNT_PLACES = 2


class FollowUp(models.TextChoices):
    """Where the team is with a customer: the team's own judgement, kept across runs."""

    NEW = "new", "New"
    INVESTIGATING = "investigating", "Investigating"
    CONTACTED = "contacted", "Contacted"
    RECOVERING = "recovering", "Recovering"
    RECOVERED = "recovered", "Recovered"
    LOST = "lost", "Lost"
    NOT_A_RISK = "not_a_risk", "Not a risk"


class Customer(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="customers")
    # The id exactly as uploaded: text, so leading zeros and letters survive.
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    first_month = models.DateField(null=True, blank=True)
    last_month = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The follow-up: the team's, never a run's (a new run keeps it). Database defaults, so
    # that the import's set-based INSERT of new customers needs to know nothing of them.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_customers",
    )
    follow_up = models.CharField(
        max_length=20, choices=FollowUp.choices, default=FollowUp.NEW, db_default=FollowUp.NEW
    )
    follow_up_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    follow_up_changed_at = models.DateTimeField(null=True, blank=True)
    # "Not a risk" and a snooze hide the customer from the default risk view while its level
    # is no worse than this one (-1 for insufficient data); a snooze also ends on this date.
    hidden_at_level = models.SmallIntegerField(null=True, blank=True)
    snoozed_until = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "external_id"], name="customer_unique_team_external_id"
            ),
        ]
        indexes = [
            # "My customers" and the owner filter; the hidden ones of the default view.
            models.Index(fields=["team", "owner"], name="customer_team_owner"),
            models.Index(
                fields=["team", "id"],
                name="customer_hidden",
                condition=models.Q(hidden_at_level__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class CustomerNote(models.Model):
    """A note on a customer (Markdown, rendered safely), newest first on its page."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="note_customer_time")]

    def __str__(self) -> str:
        return f"Note on {self.customer_id} by {self.author_id}"


class FollowUpChange(models.Model):
    """One change of a customer's follow-up status: its history."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="follow_up_changes"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    previous = models.CharField(max_length=20, choices=FollowUp.choices)
    status = models.CharField(max_length=20, choices=FollowUp.choices)
    reason = models.CharField(max_length=500, blank=True)
    snoozed_until = models.DateField(null=True, blank=True)
    level = models.SmallIntegerField(null=True, blank=True)  # the level when it was changed
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="followup_customer_time")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.previous} → {self.status}"


class RevenueRecord(models.Model):
    """Net revenue of one customer in one calendar month (``month`` is its first day)."""

    # Denormalised from the customer so the analysis reads a team's matrix with one
    # index range scan and `replace` imports delete a team's months set-based.
    # The largest table. Both foreign keys are covered by the composite indexes below, so
    # neither gets an index of its own, and neither is a database constraint: PostgreSQL
    # checks a constraint row by row at commit, which cost 3 s of a 10 s budget for a
    # million-row import. Rows are only written by customers.ingest.writing, which takes
    # customer ids from a join on the team's customers; deletes cascade through Django.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="revenue",
        db_index=False,
        db_constraint=False,
    )
    month = models.DateField()
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    transaction_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # Unique per customer and month (a customer belongs to one team). Leading with
            # the team lets this one index also serve the analysis's whole-team read and
            # `replace` deletes, instead of a second index paid for on every import.
            models.UniqueConstraint(
                fields=["team", "customer", "month"], name="revenue_unique_customer_month"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month:%Y-%m}: {self.amount}"


class UploadStatus(models.TextChoices):
    DRAFT = "DRAFT", "Awaiting confirmation"
    PENDING = "PENDING", "Queued"
    RUNNING = "RUNNING", "Importing"
    SUCCEEDED = "SUCCEEDED", "Imported"
    FAILED = "FAILED", "Failed"


class UploadMode(models.TextChoices):
    APPEND = "append", "Append (add to the monthly totals)"
    REPLACE = "replace", "Replace the months the file covers"


def upload_path(instance: Upload, filename: str) -> str:
    return f"uploads/{instance.team_id}/{instance.content_hash[:2]}/{instance.content_hash}"


class Upload(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=upload_path, max_length=300)
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the file's bytes")
    mode = models.CharField(max_length=10, choices=UploadMode.choices, default=UploadMode.APPEND)
    column_mapping = models.JSONField(default=dict, blank=True)
    date_format = models.CharField(max_length=64, blank=True)
    skip_invalid = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=UploadStatus.choices, default=UploadStatus.DRAFT
    )
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=40, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    customers_count = models.PositiveIntegerField(default=0)
    new_customers_count = models.PositiveIntegerField(default=0)
    months_count = models.PositiveIntegerField(default=0)
    first_month = models.DateField(null=True, blank=True)
    last_month = models.DateField(null=True, blank=True)
    # The latest transaction date in the file: tells whether its last month is complete.
    last_transaction_date = models.DateField(null=True, blank=True)
    total_amount = models.DecimalField(
        max_digits=18, decimal_places=AMOUNT_PLACES, null=True, blank=True
    )
    # The first invalid rows as {"row": n, "reason": text}; rows_rejected has the count.
    errors = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True)
    timings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life of its task (queued, claimed, each step), and how many times a worker
    # claimed it: the watchdog queues an import again whose worker vanished, or fails it.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="upload_team_created"),
            models.Index(fields=["team", "content_hash"], name="upload_team_hash"),
        ]
        constraints = [
            # The database's word on "the same file is not appended twice".
            models.UniqueConstraint(
                fields=["team", "content_hash"],
                condition=models.Q(status=UploadStatus.SUCCEEDED, mode=UploadMode.APPEND),
                name="upload_unique_appended_file",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (UploadStatus.SUCCEEDED, UploadStatus.FAILED)

    @property
    def is_active(self) -> bool:
        return self.status in (UploadStatus.PENDING, UploadStatus.RUNNING)
