"""What the console reads about a breaker and the next step it suggests."""
