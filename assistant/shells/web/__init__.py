"""The Gradio web app (mounted on FastAPI), its panels, and the product-photo route."""
