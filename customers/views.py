from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team
from audit.services import audit_record

from .forms import MappingForm, UploadForm
from .ingest import IngestError
from .ingest.mapping import FIELDS
from .models import Upload, UploadStatus
from .services import (
    upload_confirm,
    upload_create,
    upload_preview,
    upload_retry_valid_rows,
    upload_staleness,
    uploads_for_team,
)

uploads_view = team_view(Role.ADMIN)


def _get_upload(team: Team, upload_id: int) -> Upload:
    return get_object_or_404(Upload, pk=upload_id, team=team)


@uploads_view
@require_http_methods(["GET", "HEAD", "POST"])
def upload_list(request: TeamRequest, team: Team) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    refused = getattr(request, "upload_refused", "")  # cut off while arriving: too large
    if refused:
        form.is_valid()
        form.errors["file"] = form.error_class([refused])
    elif request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        try:
            upload = upload_create(
                team=team,
                data=file,
                filename=file.name,
                user=request.user,
                mode=form.cleaned_data["mode"],
            )
        except IngestError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("upload_detail", team_slug=team.slug, upload_id=upload.pk)
    page = Paginator(uploads_for_team(team=team).exclude(status=UploadStatus.DRAFT), 25)
    return render(
        request,
        "customers/upload_list.html",
        {"form": form, "page": page.get_page(request.GET.get("page"))},
        status=400 if form.errors else 200,
    )


def _preview_context(upload: Upload, mapping_values: dict | None, date_format: str | None):
    try:
        preview = upload_preview(
            upload=upload, column_mapping=mapping_values, date_format=date_format
        )
    except IngestError as exc:
        return {"upload": upload, "file_error": exc.message}
    return {"upload": upload, "preview": preview}


@uploads_view
@require_safe
def upload_detail(request: TeamRequest, team: Team, upload_id: int) -> HttpResponse:
    upload = _get_upload(team, upload_id)
    context: dict = {"upload": upload, "staleness": upload_staleness(upload=upload)}
    if upload.status == UploadStatus.DRAFT:
        context = _preview_context(upload, None, None)
        if "preview" in context:
            preview = context["preview"]
            context["form"] = MappingForm(
                initial=MappingForm.initial_for(preview.mapping, upload, preview.columns),
                columns=preview.columns,
            )
    return render(request, "customers/upload_detail.html", context)


@uploads_view
@require_safe
def upload_preview_partial(request: TeamRequest, team: Team, upload_id: int) -> HttpResponse:
    """Re-read the first rows with the mapping being edited (HTMX, on every change)."""
    upload = _get_upload(team, upload_id)
    mapping = {f: request.GET.get(f, "") for f in FIELDS}
    if mapping["amount"]:
        mapping["quantity"] = mapping["price"] = ""
    context = _preview_context(upload, mapping, request.GET.get("date_format", ""))
    return render(request, "customers/upload_detail.html#preview-table", context)


@uploads_view
@require_POST
def upload_confirm_view(request: TeamRequest, team: Team, upload_id: int) -> HttpResponse:
    upload = _get_upload(team, upload_id)
    if upload.status != UploadStatus.DRAFT:
        return redirect("upload_detail", team_slug=team.slug, upload_id=upload.pk)
    context = _preview_context(upload, None, None)
    if "file_error" in context:
        return render(request, "customers/upload_detail.html", context, status=400)
    form = MappingForm(request.POST, columns=context["preview"].columns)
    if form.is_valid():
        try:
            upload_confirm(
                upload=upload,
                column_mapping=form.column_mapping(),
                date_format=form.cleaned_data["date_format"],
                mode=form.cleaned_data["mode"],
                skip_invalid=form.cleaned_data["skip_invalid"],
            )
        except IngestError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("upload_detail", team_slug=team.slug, upload_id=upload.pk)
    context["form"] = form
    return render(request, "customers/upload_detail.html", context, status=400)


@uploads_view
@require_safe
def upload_status_partial(request: TeamRequest, team: Team, upload_id: int) -> HttpResponse:
    upload = _get_upload(team, upload_id)
    return render(request, "customers/upload_detail.html#upload-status", {"upload": upload})


@uploads_view
@require_POST
def upload_retry(request: TeamRequest, team: Team, upload_id: int) -> HttpResponse:
    """The refused file again, importing its valid rows and reporting the others."""
    upload = _get_upload(team, upload_id)
    try:
        retry = upload_retry_valid_rows(upload=upload, user=request.user)
    except IngestError as exc:
        messages.error(request, exc.message)
        return redirect("upload_detail", team_slug=team.slug, upload_id=upload.pk)
    return redirect("upload_detail", team_slug=team.slug, upload_id=retry.pk)


@uploads_view
@require_POST
def upload_discard(request: TeamRequest, team: Team, upload_id: int) -> HttpResponse:
    upload = _get_upload(team, upload_id)
    if upload.status == UploadStatus.DRAFT:
        audit_record(
            action="upload discarded", team=team, target=upload, detail=upload.original_name
        )
        upload.file.delete(save=False)
        upload.delete()
        messages.info(request, f"Discarded {upload.original_name}.")
    return redirect("upload_list", team_slug=team.slug)
