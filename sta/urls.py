"""SensorThings routes: /sta/v1.1/tenants/<slug>/..."""

urlpatterns: list = []
