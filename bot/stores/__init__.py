"""Rasa stores frontdesk adds (loaded by `type: stores.<module>.<Class>` in an endpoints file).
Nothing here is part of the trained model: changing it never retrains the bot."""
