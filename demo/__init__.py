"""The Gradio teaching app around ``charlm``: interface only, no model maths."""
