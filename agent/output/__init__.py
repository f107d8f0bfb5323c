"""What a user reads as text: the prediction, its candidates and evidence, wrapped to the
terminal (the HTML map is :mod:`sinoloc.agent.web.mapview`, beside the web app whose assets it
shares)."""
