"""The HTTP front end (``hydrogen serve --http``): the platform's endpoints over a Supervisor."""
