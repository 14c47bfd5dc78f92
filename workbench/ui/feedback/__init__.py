"""The Feedback page and the rating dialog: feedback on chat replies and arena votes, turned into dataset versions."""
