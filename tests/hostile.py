"""Text an adversary controls (service names, notes, flag names, alerts),
each kind once, and how each must look on screen."""

MARKUP = "[bold red]x[/]"
LINK = "[link=http://evil]click[/link]"
CSI = "\x1b[2J"
OSC_TITLE = "\x1b]0;pwned\x07"
OSC_LINK = "\x1b]8;;http://evil\x1b\\"
RTL = "مرحبا שלום \u202eevil"
EMOJI = "👩‍👩‍👧‍👦🔥"
CONTROLS = "nul\x00bs\x08cr\rdel\x7fc1\x9b31m"
LONG = "L" * 10_000
HOSTILE = (MARKUP, LINK, CSI, OSC_TITLE, OSC_LINK, RTL, EMOJI, CONTROLS, LONG)
# What each must look like on screen (escaped, or as it is).
SHOWN = ("[bold red]x[/]", "[link=http://evil]click[/link]", "\\x1b[2J",
         "\\x1b]0;pwned\\x07", "\\x1b]8;;http://evil\\x1b\\\\", "مرحبا", "🔥",
         "nul\\x00bs\\x08cr\\x0ddel\\x7fc1\\x9b31m", "LLLLLLLLLL")
EVERYTHING = "".join(HOSTILE[:-1])  # one string holding all but the long one
