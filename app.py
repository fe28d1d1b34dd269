"""Start the shopping assistant's Gradio app (a thin shell; see assistant/ui.py)."""

from assistant.ui import serve

if __name__ == "__main__":
    serve()
