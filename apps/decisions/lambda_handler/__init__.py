"""The Amazon Connect Lambda function (standard library only; bundled by `manage.py connect_bundle`)."""
