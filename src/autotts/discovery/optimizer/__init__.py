"""LLM-free discovery: a numerical optimiser over composed controllers and β schedules."""
