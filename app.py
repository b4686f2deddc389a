from spaces import create_app

app = create_app()
