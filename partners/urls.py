from django.urls import path

from partners import views

urlpatterns = [
    path("partners/<slug:namespace>/rooms/<slug:slug>/", views.visitor_room, name="partner-visitor-room"),
]
