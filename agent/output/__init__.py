"""What a user reads: text rendering of a prediction and its evidence, and the HTML map."""
