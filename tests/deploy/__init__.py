"""Checks of the deployment files (Dockerfile, .dockerignore, docker-compose.yml) with real tools."""
