"""Views of transcripts: a readable terminal view and a self-contained HTML report."""
