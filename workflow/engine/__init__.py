"""The dynamic workflow engine (seed 002): database-configured templates run on Celery.

Durable state lives in the database (instances, activity instances, attempts, incidents); a
Celery message only says "run attempt n of activity x now", so a lost message or a killed
worker is repaired by the beat sweep (``schedule.py``) instead of losing the activity.
"""
