"""What a user reads: the prediction, its candidates and evidence as text wrapped to the terminal
(``render.py``), and the offline map's data (``mapdata.py`` over ``geometry.py``) that the web app
and the standalone HTML map (:mod:`sinoloc.app.web.mapview`) draw."""
