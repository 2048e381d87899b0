from django.urls import path

from ranking import views

urlpatterns = [path("rankings/", views.rankings, name="rankings")]
