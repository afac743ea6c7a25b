from django.contrib import admin

from apps.ingest.models import IngestBatch, QuarantinedRow


class QuarantinedRowInline(admin.TabularInline):
    model = QuarantinedRow
    fields = ["row_number", "reason", "raw"]
    readonly_fields = ["row_number", "reason", "raw"]
    extra = 0
    max_num = 0
    show_change_link = True


@admin.register(IngestBatch)
class IngestBatchAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "format", "status", "rows_read", "loaded", "duplicates", "quarantined",
                    "started", "finished"]
    list_filter = ["status", "format"]
    search_fields = ["source"]
    readonly_fields = [f.name for f in IngestBatch._meta.fields]
    inlines = [QuarantinedRowInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(QuarantinedRow)
class QuarantinedRowAdmin(admin.ModelAdmin):
    list_display = ["batch", "row_number", "reason"]
    list_filter = ["batch__status"]
    search_fields = ["reason", "batch__source"]
    readonly_fields = ["batch", "row_number", "reason", "raw"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
