"""Conversations about returns, exchanges, refunds and warranty claims."""

from __future__ import annotations

from chatkit import Chat
from shop import (
    EMAIL, GEAR, PRODUCTS, REFUND_DAYS, RETURN_DAYS, RETURN_SHIPPING,
    WEBSITE, money,
)

REFUND = f"{REFUND_DAYS[0]}–{REFUND_DAYS[1]} business days"

FAULTS = {
    "kettle": ["won't heat up anymore", "shows an error light and switches off", "stopped holding the temperature"],
    "grinder": ["motor stops after a few seconds", "makes a grinding noise and won't turn", "won't switch on"],
    "espresso machine": ["leaks water from the bottom", "pump is making a loud noise and no coffee comes out", "steam wand stopped working"],
    "milk frother": ["won't charge anymore", "spins really slowly even when fully charged"],
    "scale": ["shows the wrong weight", "screen flickers and resets", "won't turn on, even with new batteries"],
    "French press": ["lid hinge snapped", "plunger rod came loose from the filter"],
    "cold brew jar": ["filter mesh came apart at the seam", "lid seal started leaking"],
    "tea mug": ["infuser basket came loose from its rim", "lid doesn't seal anymore"],
}


def _refund_line(c: Chat) -> str:
    return c.pick([
        f"Once it reaches our warehouse, the refund goes back to your original payment method within {REFUND}.",
        f"We refund to the original payment method within {REFUND} of receiving the return.",
        f"After it arrives, you'll see the refund on your original payment method within {REFUND}.",
    ])


def return_request(c: Chat) -> None:
    item = c.pick(PRODUCTS)
    days = c.pick([2, 4, 6, 9, 12, 15, 18, 21, 25, 28, 30, 33, 37, 45, 60])
    beans = "beans" in item.kind
    if beans:
        reason = c.pick(["mind", "mind", "fault", "opened"])
    else:
        reason = c.pick(["mind", "opened"] if item.consumable else ["mind", "mind", "mind", "fault"])
    if item.consumable and reason != "mind":
        days = min(days, 21)
    openers = [f"I'd like to return the {item.name}.", f"How do I return the {item.name} I bought?",
               f"Can I send back the {item.short or item.name}?", f"I want a refund for the {item.name}."]
    if reason != "fault":
        openers += [f"The {item.name} isn't for me. What's your return policy?",
                    f"I changed my mind about the {item.name}. Can I return it?"]
    c.user(c.pick(openers))
    c.bot(c.pick(["Sure, I can help with a return.", "Of course.", "No problem."]),
          c.pick(["When was it delivered, and has it been used or opened?",
                  "Could you tell me how long ago it arrived and whether it's been used?",
                  "How many days ago did it arrive, and is it still unused in its box?"]))
    if reason == "fault":
        fault = c.pick(FAULTS.get(item.kind, ["arrived not working properly"])) if not item.consumable else "tastes stale"
        c.user(c.pick([f"It came {days} days ago and it {fault}.", f"About {days} days ago. The thing is, it {fault}."]))
        if item.consumable:
            c.bot("I'm sorry, that shouldn't happen with fresh beans.",
                  f"Since there's a quality problem, we'll send a fresh bag or refund the {money(item.price)} — whichever you prefer. No need to send it back.")
        elif days <= RETURN_DAYS:
            c.bot("Sorry to hear that! Since it's faulty, the return is free.",
                  f"Start it at {WEBSITE}/returns with your order number and email, choose 'faulty item', and print the prepaid label.",
                  f"You can pick a replacement or a full refund of {money(item.price)} including the original shipping.")
        else:
            years = item.warranty_years
            c.bot(f"That's past our {RETURN_DAYS}-day return window, but the {item.name} has a {years}-year warranty, so the fault is covered.",
                  f"Please email {EMAIL} with your order number and a short video or photo of the problem, and we'll repair or replace it at no cost.")
    elif reason == "opened":
        if beans:
            c.user(c.pick([f"It arrived {days} days ago, and yes I opened it, but I don't like the taste.",
                           f"{days} days ago. I've opened the bag but it's not really my thing."]))
            c.bot(f"I'm sorry it wasn't to your taste! For hygiene reasons we can't take back opened {item.kind}, unless there's a quality problem.",
                  c.pick(["If you'd like something different next time, the Summit Decaf is smoother and the Harbor Blend has a chocolatey, nutty profile.",
                          f"Unopened bags can be returned within {RETURN_DAYS} days of delivery, though, if you have more."]))
        else:
            c.user(c.pick([f"It came {days} days ago. I opened the pack but I don't need it after all.",
                           f"{days} days ago, it's opened but barely used."]))
            c.bot(f"I'm sorry, opened {item.kind} can't be returned — only unopened supplies, within {RETURN_DAYS} days of delivery.",
                  "If there's something wrong with the product itself, let me know and I'll make it right.")
    else:
        state = c.pick(["unopened", "still sealed"] if item.consumable else
                       ["unused, still in the box", "unopened", "used once, but it's in perfect condition"])
        c.user(c.pick([f"It arrived {days} days ago. It's {state}.", f"{days} days ago, {state}.",
                       f"I got it {days} days ago and it's {state}."]))
        if days > RETURN_DAYS:
            c.bot(f"I'm sorry — returns are accepted within {RETURN_DAYS} days of delivery, and it's been {days} days, so I can't accept this one.",
                  "If it develops a fault, the warranty still has you covered." if not item.consumable else "")
        elif "used once" in state:
            c.bot(f"You're within the {RETURN_DAYS}-day window, but we can only accept items that are unused and in their original packaging, so I'm afraid a used {item.kind} can't be returned.",
                  "If something about it isn't working right, let me know — that's a different story.")
        else:
            c.bot(f"Good news: you're within our {RETURN_DAYS}-day return window.",
                  f"Start the return at {WEBSITE}/returns with your order number and email and print the label.",
                  f"For change-of-mind returns the {money(RETURN_SHIPPING)} return shipping is deducted from your refund of {money(item.price)}, so you'd get back {money(item.price - RETURN_SHIPPING)}.",
                  _refund_line(c))
            if c.chance(0.6):
                follow = c.pick(["exchange", "time", "shipping"])
                if follow == "exchange" and not item.consumable:
                    other = c.pick([p for p in GEAR if p is not item])
                    diff = other.price - item.price
                    c.user(c.pick([f"Could I exchange it for the {other.name} instead?", f"Actually, can I swap it for the {other.name}?"]))
                    c.bot("Yes! Exchanges are free — no return shipping is deducted.",
                          f"The {other.name} is {money(other.price)}, " + (
                              f"so you'd pay the difference of {money(diff)}." if diff > 0 else
                              f"so we'd refund the difference of {money(-diff)}." if diff < 0 else "the same price, so nothing to pay."),
                          "Choose 'exchange' when you start the return and we'll ship the new item as soon as your parcel is on its way.")
                elif follow == "shipping":
                    c.user(c.pick(["Do I get the original shipping back too?", "Why do I have to pay for the return?"]))
                    c.bot("For change-of-mind returns, the original shipping isn't refunded and the return label costs "
                          f"{money(RETURN_SHIPPING)}. If an item is faulty, damaged or we sent the wrong one, everything is on us.")
                else:
                    c.user(c.pick(["How long until I get my money back?", "When will I see the refund?"]))
                    c.bot(f"We process returns as soon as they arrive, and the refund reaches your original payment method within {REFUND} after that.",
                          "You'll get an email the moment it's issued.")
    if c.chance(0.25):
        c.thanks_exchange()


def refund_status(c: Chat) -> None:
    number = c.order_number()
    c.user(c.pick(["I sent a return back last week, where's my refund?", "When will I get my refund?",
                   "I haven't received my refund yet.", "Can you check on my refund please?",
                   "My return should have arrived by now. Any news on the refund?"]))
    c.bot(c.ask_number("Let me check that for you. "))
    c.user(c.give_number(number))
    state = c.pick(["issued", "received", "transit", "short"])
    days_ago = c.pick([1, 2, 3, 4, 6])
    if state == "issued":
        c.bot(f"Your return for order {number} arrived and the refund was issued {days_ago} business day{'s' if days_ago > 1 else ''} ago.",
              f"Refunds take {REFUND} to show up on your original payment method, depending on your bank.")
    elif state == "received":
        c.bot(f"We received your return for order {number} today. It's being checked now, and the refund will be issued within 2 business days.",
              f"After that, allow {REFUND} for it to appear on your original payment method.")
    elif state == "transit":
        c.bot(f"The return parcel for order {number} is still on its way to our warehouse, according to the tracking.",
              f"As soon as it arrives, we'll issue the refund; then it takes {REFUND} to reach your account.")
        if c.chance(0.6):
            c.user(c.pick(["It's been 10 days though!", "Is it lost? I shipped it ages ago."]))
            c.bot("I understand. If the tracking hasn't moved for 7 days, we'll open a claim with the carrier and refund you anyway — please keep your drop-off receipt.",
                  "I've set a reminder on your order to check again in 3 days.")
    else:
        item = c.pick([p for p in GEAR if p.price > 20])
        c.bot(f"The refund for order {number} was issued: {money(item.price - RETURN_SHIPPING)} for the {item.name}.")
        c.user(c.pick([f"Why not the full {money(item.price)}?", "That's less than I paid!"]))
        c.bot(f"For change-of-mind returns, the {money(RETURN_SHIPPING)} return label is deducted and the original shipping isn't refunded.",
              "If the item was faulty, tell me what went wrong and I'll refund the difference.")
    if c.chance(0.3):
        c.thanks_exchange()


def warranty_claim(c: Chat) -> None:
    item = c.pick(GEAR)
    fault = c.pick(FAULTS[item.kind])
    months = c.pick([2, 3, 5, 7, 8, 10, 11, 14, 16, 19, 22, 23, 26, 30])
    accidental = item.kind in ("tea mug", "cold brew jar", "French press") and c.chance(0.3)
    if accidental:
        c.user(c.pick([f"I dropped my {item.name} and it broke. Is that covered by the warranty?",
                       f"My {item.short or item.name} fell off the counter and cracked. Can I get it replaced?"]))
        c.bot("Oh no, sorry to hear that!",
              f"The warranty covers manufacturing defects, not accidental damage like drops, so I can't replace it for free.",
              f"You can order a new one at {WEBSITE} for {money(item.price)}.")
        return
    c.user(c.pick([f"My {item.name} {fault}. I bought it {months} months ago.",
                   f"The {item.short or item.name} I got {months} months ago {fault}. What can I do?",
                   f"Is my {item.name} still under warranty? It {fault}, and I've had it for {months} months."]))
    years = item.warranty_years
    if months <= years * 12:
        c.bot(c.pick(["Sorry about the trouble!", "That shouldn't happen — sorry!", "I'm sorry it's acting up."]),
              f"The {item.name} has a {years}-year warranty from delivery, so at {months} months you're covered.",
              f"Please email {EMAIL} with your order number and a short video or photo of the problem.",
              "We'll send a prepaid label and repair or replace it, usually within 3 business days of receiving it.")
        if c.chance(0.5):
            c.user(c.pick(["I don't have the order number anymore.", "I bought it as a guest, does that matter?"]))
            c.bot("No problem — the email address you ordered with is enough for us to find the order.")
    else:
        c.bot(f"I'm sorry — the {item.name} has a {years}-year warranty, and at {months} months it has run out, so a free repair isn't possible.",
              "Limescale is the most common cause of this in kettles and espresso machines: our Descaling Kit ($12.00) often brings them back to life."
              if item.kind in ("kettle", "espresso machine") else f"If you'd like a new one, it's {money(item.price)} on {WEBSITE}.")
    if c.chance(0.25):
        c.thanks_exchange()

