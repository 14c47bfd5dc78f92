"""Reading inputs: files and folders of every supported type, streamed as raw records, and the importer that turns them into a dataset version."""
