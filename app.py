"""Start the shopping assistant's Gradio app (a thin shell; see assistant/shells/web/app.py)."""

from assistant.shells.web.app import serve

if __name__ == "__main__":
    serve()
