"""Tables and plots of evaluation results."""
