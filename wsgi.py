"""WSGI entry: `flask --app wsgi ...` and `gunicorn wsgi:app`."""
from dotenv import load_dotenv

load_dotenv()  # a local .env, if present; real deployments set the environment directly

from app import create_app  # noqa: E402

app = create_app()
