"""The app's OAuth handler: the launch, install, settings and uninstall URLs Buy with Prime
calls, served by FastAPI (on ECS Fargate on AWS, under uvicorn on 127.0.0.1 locally)."""
