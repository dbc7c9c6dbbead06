"""What each feature adds to `pmbot demo` (imported by bot.demo)."""
