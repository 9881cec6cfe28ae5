from django.urls import path

from crm import views

urlpatterns = [
    path("", views.home, name="home"),
    path("register/", views.register, name="register"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("me/", views.me, name="me"),
    path("me/homework/<int:pk>/", views.homework_upload, name="homework_upload"),
    path("files/<path:name>", views.homework_file, name="homework_file"),
]
