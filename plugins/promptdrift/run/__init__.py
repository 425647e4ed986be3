"""Running a case: render the prompt, hold the conversation through the record layer, check each answer."""
