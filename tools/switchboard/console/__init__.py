"""The reviewer console: a small web app over the supervisor's Review service."""
