"""Self-contained HTML reports of a run folder or an experiment (``opmatrix report``)."""
