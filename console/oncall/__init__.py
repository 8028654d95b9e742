"""On call: incidents reach the moderators where they are (routes and receivers), escalate when
nobody answers, and are acted on from the moderators' chat. See routes, dispatcher, receivers,
chatops; wiring puts them into the service."""
