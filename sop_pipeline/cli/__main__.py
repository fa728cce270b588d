from sop_pipeline.cli import entry

entry()
