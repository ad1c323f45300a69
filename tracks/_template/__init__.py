"""The template every new topic starts from (docs/adding_a_topic.md); not a topic itself."""
