"""The chat page (Gradio): `ui.app.build_app` and `ui.app.launch`. Wiring only; the logic lives in `rag`."""
