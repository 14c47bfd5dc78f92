"""Conversations about orders: status, changes and cancellations, shipping, damaged or lost parcels."""

from __future__ import annotations

from chatkit import Chat, join_items, track_hint
from shop import (
    CANADA_COST, CANADA_DAYS, CANADA_FREE_OVER, CANCEL_WINDOW, CUTOFF, DAMAGE_REPORT_DAYS, EMAIL,
    EXPRESS_COST, EXPRESS_DAYS, FREE_SHIPPING_OVER, GEAR, MISSING_PARCEL_HOURS, PRODUCTS,
    STANDARD_COST, STANDARD_DAYS, WEEKDAYS, business_day_after, money, shipping_for,
)

STD = f"{STANDARD_DAYS[0]}–{STANDARD_DAYS[1]} business days"
EXP = f"{EXPRESS_DAYS[0]}–{EXPRESS_DAYS[1]} business days"


def order_status(c: Chat) -> None:
    number = c.order_number()
    ask = c.pick([
        "Where is my order?", "Can you tell me the status of my order?",
        "I placed an order a few days ago and haven't heard anything. Has it shipped?",
        "My order hasn't arrived yet, can you check on it?", "When will my order get here?",
        "Any update on my order? I'm getting a bit impatient.", "I'd like to track my package.",
        "Has my order shipped yet?", "Could you check where my parcel is?",
        "I'm waiting for a delivery from you. Any news?", "How's my order coming along?",
    ])
    if c.chance(0.4):
        c.user(c.pick([f"{ask} The order number is {number}.", f"{ask} It's {number}.",
                       f"Order {number}: {ask[0].lower() + ask[1:]}"]))
    else:
        c.user(ask)
        c.bot(c.ask_number())
        c.user(c.give_number(number))
    status = c.pick(["new", "packing", "shipped", "shipped", "out", "delivered"])
    day = c.rng.randrange(5)
    express = c.chance(0.3)
    method, days = ("express", EXPRESS_DAYS) if express else ("standard", STANDARD_DAYS)
    if status == "new":
        minutes = c.pick([10, 15, 20, 25, 35, 40])
        c.bot(f"Thanks! Order {number} was placed {minutes} minutes ago and is waiting to be packed.",
              c.pick([f"Orders placed before {CUTOFF} on a business day ship the same day, so it should go out today.",
                      f"If it was placed before {CUTOFF} on a weekday, it ships today; otherwise on the next business day."]),
              f"You'll get an email with tracking as soon as it leaves our warehouse.")
        if c.chance(0.5):
            c.user(c.pick(["Oh, can I still add something to it?", "Can I change the delivery address?",
                           "Wait, I picked the wrong color. Can I still change it?"]))
            c.bot(f"Yes — orders can be changed or cancelled within {CANCEL_WINDOW} of being placed, and yours is still inside that window.",
                  c.pick(["Tell me what you'd like to change and I'll update it right away.",
                          "Just let me know the change and I'll take care of it now."]))
    elif status == "packing":
        c.bot(f"Order {number} is with our packing team right now.",
              c.pick([f"It will ship today and you'll get a tracking email tonight.",
                      f"It should leave the warehouse by the end of the day, with a tracking email to follow."]),
              f"It's going by {method} shipping, which takes {days[0]}–{days[1]} business days after dispatch.")
        if c.chance(0.5):
            c.user(c.pick(["Can I still cancel it?", "Can I add another item?", "Can I still change the address?"]))
            c.bot(f"I'm sorry, changes and cancellations are only possible within {CANCEL_WINDOW} of placing an order, and yours is already being packed.",
                  c.pick(["If you no longer want it, you can return it within 30 days of delivery.",
                          f"Once it's delivered you can still return it within 30 days, or place a second order for anything you'd like to add (standard shipping is free above {money(FREE_SHIPPING_OVER)})."]))
    elif status in ("shipped", "out"):
        if status == "shipped":
            first, last = business_day_after(day, days[0]), business_day_after(day, days[1])
            c.bot(c.pick(["Good news!", "Thanks for waiting.", ""]),
                  f"Order {number} shipped on {WEEKDAYS[day]} by {method} shipping, which takes {days[0]}–{days[1]} business days,",
                  f"so it should arrive between {first} and {last}." if first != last else f"so it should arrive by {first}.",
                  track_hint(c))
        else:
            c.bot(f"Order {number} is out for delivery today!",
                  "The carrier delivers until 8 pm, so it should be with you this evening at the latest.", track_hint(c))
        if c.chance(0.55):
            follow = c.pick(["address", "tracking"] if express or status == "out" else ["address", "slow", "tracking"])
            if follow == "address":
                c.user(c.pick(["Can I change the delivery address? I won't be home.",
                               "I just moved, can you send it to my new address?"]))
                c.bot("Once an order has left our warehouse we can't change the address anymore.",
                      c.pick(["You can ask the carrier for a redirect or a pickup point through the tracking page, though.",
                              "The carrier's tracking page does let you redirect the parcel or choose a pickup point."]),
                      "If it comes back to us undelivered, we'll reship it to the right address for free.")
            elif follow == "slow":
                c.user(c.pick(["Why is it taking so long?", "That's slower than I hoped. Can it be faster?"]))
                c.bot(f"Standard shipping takes {STD} and express {EXP}, counted from dispatch and without weekends.",
                      "Since the parcel is already with the carrier, I can't speed it up now, but for your next order you can choose express at checkout.")
            else:
                c.user(c.pick(["Can you give me the tracking number?", "I can't find the tracking email."]))
                c.bot("The tracking link went to the email address on the order when it shipped — it's worth checking your spam folder.",
                      track_hint(c))
    else:
        where = c.pick(["at your front door", "in your building's mailroom", "at reception", "with a neighbour"])
        c.bot(f"According to the carrier, order {number} was delivered on {WEEKDAYS[day]} and left {where}.")
        c.user(c.pick(["But I never got it!", "That's strange, there's nothing here.",
                       "I've looked everywhere and it isn't here.", "Really? I didn't receive anything."]))
        c.bot(c.pick(["I'm sorry, that's frustrating.", "Oh no, I'm sorry to hear that."]),
              f"Carriers sometimes mark parcels as delivered a little early, so please check around your door and with neighbours and give it {MISSING_PARCEL_HOURS} hours.",
              f"If it still hasn't turned up by then, reply here or email {EMAIL} and we'll open a claim and send a replacement or a full refund, whichever you prefer.")
    if c.chance(0.3):
        c.thanks_exchange()


def cancel_or_change(c: Chat) -> None:
    number = c.order_number()
    minutes = c.pick([5, 10, 20, 30, 45, 50, 90, 120, 180, 300])
    ago = f"{minutes} minutes ago" if minutes < 60 else f"about {minutes // 60} hour{'s' if minutes >= 120 else ''} ago"
    wish = c.pick(["cancel", "cancel", "address", "item", "quantity"])
    text = {
        "cancel": c.pick([f"I need to cancel my order, I placed it {ago}.", f"Please cancel the order I made {ago}.",
                          f"I ordered something {ago} by mistake. Can I cancel?", f"Can I still cancel an order from {ago}?"]),
        "address": c.pick([f"I put the wrong address on my order from {ago}. Can you fix it?",
                           f"Can I change the shipping address on an order I placed {ago}?"]),
        "item": c.pick([f"I ordered {ago} and chose the wrong item. Can I swap it?",
                        f"Is it possible to change what I ordered? I placed it {ago}."]),
        "quantity": c.pick([f"I'd like to add a second bag of beans to my order from {ago}.",
                            f"Can I change the quantity on an order I placed {ago}?"]),
    }[wish]
    c.user(text)
    c.bot(c.ask_number("I can help with that. "))
    c.user(c.give_number(number))
    if minutes <= 60:
        done = {
            "cancel": c.pick([f"Done — order {number} is cancelled.", f"I've cancelled order {number} for you."]) + " "
            + "Your card was only authorised, not charged, so the hold will disappear within a few business days, depending on your bank.",
            "address": f"Yes, order {number} is still within the {CANCEL_WINDOW} change window. What's the correct address? I'll update it before it's packed.",
            "item": f"Yes, order {number} can still be changed — it's within {CANCEL_WINDOW} of being placed. Which item would you like instead?",
            "quantity": f"No problem, order {number} is still within the {CANCEL_WINDOW} change window. How many would you like in total?",
        }[wish]
        c.bot(done)
        if wish != "cancel" and c.chance(0.7):
            c.user(c.pick(["Great, I'll send the details now.", "Perfect, thank you!", "Awesome, give me a sec."]))
            c.bot(c.pick(["Sounds good — I'll keep the order on hold until I hear from you.",
                          "Great, I'll make the change as soon as I have the details."]))
    else:
        c.bot(f"I'm sorry — orders can only be changed or cancelled within {CANCEL_WINDOW} of being placed, and order {number} is already with our packing team.",
              c.pick(["Once it arrives, you can return anything you don't want within 30 days of delivery.",
                      "You're welcome to return it within 30 days of delivery, as long as it's unused and in its original packaging."]))
        if wish == "address" and c.chance(0.8):
            c.user(c.pick(["But the address is wrong, it won't reach me!", "So what happens with the wrong address?"]))
            c.bot("Understood. Once it ships, you can redirect it through the carrier's tracking page.",
                  "And if it bounces back to us as undeliverable, we'll reship it to the right address at no cost.")
        elif c.chance(0.4):
            c.user(c.pick(["Why so strict?", "That's a shame. Can't you make an exception?"]))
            c.bot("I understand the frustration. After the first hour the order is picked and packed, often within minutes, so we can't reliably stop it.",
                  "A return after delivery is the safest route.")
    if c.chance(0.25):
        c.thanks_exchange()


def _basket(c: Chat, size: int) -> list:
    return c.rng.sample(PRODUCTS, size)


def shipping_question(c: Chat) -> None:
    kind = c.pick(["cost", "cost", "basket", "basket", "speed", "canada", "cutoff", "international", "weekend"])
    if kind == "cost":
        c.user(c.pick(["How much is shipping?", "What are your shipping costs?", "Do you offer free shipping?",
                       "What does delivery cost?", "Is there a minimum order for free shipping?"]))
        c.bot(f"Standard shipping ({STD}) costs {money(STANDARD_COST)} and is free on orders over {money(FREE_SHIPPING_OVER)}.",
              f"Express shipping ({EXP}) is {money(EXPRESS_COST)}.",
              c.pick(["Both are tracked.", f"Orders placed before {CUTOFF} on business days ship the same day.", ""]))
    elif kind == "basket":
        items = _basket(c, c.pick([1, 2, 2, 3]))
        subtotal = sum(p.price for p in items)
        c.user(c.pick([f"If I order the {join_items(p.name for p in items)}, is shipping free?",
                       f"What would shipping be for the {join_items(p.name for p in items)}?",
                       f"I want to buy the {join_items(p.name for p in items)}. Do I get free delivery?"]))
        those = "That's" if len(items) == 1 else "Those come to"
        if subtotal > FREE_SHIPPING_OVER:
            c.bot(f"{those} {money(subtotal)}, which is over {money(FREE_SHIPPING_OVER)}, so standard shipping is free.",
                  f"If you need it sooner, express is {money(EXPRESS_COST)} ({EXP}).")
        else:
            gap = FREE_SHIPPING_OVER - subtotal
            c.bot(f"{those} {money(subtotal)}, so standard shipping would be {money(STANDARD_COST)}, for a total of {money(subtotal + STANDARD_COST)}.",
                  f"Standard shipping is free once your subtotal is over {money(FREE_SHIPPING_OVER)}"
                  + (f", so add a little more than {money(gap)} and it's free." if gap > 0 else ", and you're exactly at it, so any small extra item would do."))
            if c.chance(0.6):
                extra = c.pick([p for p in PRODUCTS if p.price > gap and p not in items])
                new_total = subtotal + extra.price
                c.user(c.pick([f"What if I add the {extra.name}?", f"And with the {extra.name} as well?"]))
                c.bot(f"Then your subtotal is {money(new_total)}" +
                      (f" and standard shipping is free." if new_total > FREE_SHIPPING_OVER
                       else f", still under {money(FREE_SHIPPING_OVER)}, so shipping stays {money(STANDARD_COST)}."))
    elif kind == "speed":
        c.user(c.pick(["How long does delivery take?", "How fast do you ship?", "If I order today, when will it arrive?"]))
        c.bot(f"Orders placed before {CUTOFF} on a business day leave our warehouse the same day.",
              f"From there, standard shipping takes {STD} and express takes {EXP}.")
        if c.chance(0.5):
            day = c.rng.randrange(5)
            c.user(f"So if I order express on {WEEKDAYS[day]} morning, when would it come?")
            c.bot(f"It would ship that {WEEKDAYS[day]}, and express takes {EXP}, so expect it by "
                  f"{business_day_after(day, EXPRESS_DAYS[1])}, quite possibly on {business_day_after(day, EXPRESS_DAYS[0])}.")
    elif kind == "canada":
        c.user(c.pick(["Do you ship to Canada?", "I'm in Toronto — can you deliver here?", "What does shipping to Canada cost?"]))
        c.bot(f"Yes, we ship to Canada. It's {money(CANADA_COST)} and takes {CANADA_DAYS[0]}–{CANADA_DAYS[1]} business days, and it's free on orders over {money(CANADA_FREE_OVER)}.",
              "Prices are charged in US dollars; any import duties are covered by us.")
    elif kind == "international":
        country = c.pick(["the UK", "Germany", "Australia", "Mexico", "Japan", "France"])
        c.user(c.pick([f"Can you ship to {country}?", f"Do you deliver to {country}?"]))
        c.bot(f"I'm sorry, we only ship to the United States and Canada at the moment, so we can't deliver to {country}.",
              c.pick(["We hope to add more countries in the future.", ""]))
    elif kind == "cutoff":
        c.user(c.pick(["What's the cutoff time for same-day shipping?", "If I order this afternoon will it ship today?"]))
        c.bot(f"Orders placed before {CUTOFF} on a business day ship the same day. Anything later ships the next business day.")
    else:
        c.user(c.pick(["Do you ship on weekends?", "If I order on Saturday when does it go out?"]))
        c.bot("We dispatch Monday to Friday only. Orders placed on a weekend ship on Monday, and delivery times count business days.")
    if c.chance(0.2):
        c.thanks_exchange()


def damaged_or_wrong(c: Chat) -> None:
    number = c.order_number()
    item = c.pick(GEAR)
    problem = c.pick(["damaged", "damaged", "wrong", "missing_item"])
    if problem == "damaged":
        c.user(c.pick([f"My {item.name} arrived broken.", f"The box was crushed and the {item.short or item.name} inside is damaged.",
                       f"The {item.name} I got is cracked, right out of the box.", f"My order came today but the {item.kind} is dented."]))
        c.bot("I'm so sorry it arrived like that!",
              f"If you report damage within {DAMAGE_REPORT_DAYS} days of delivery, we'll send a free replacement or refund it in full — your choice.",
              "Could you send a photo of the damage and your order number?")
        c.user(c.pick([f"Sure, the order is {number}. I'll attach the photo.", f"{number}, photo sent.",
                       f"Order {number}. Photo attached."]))
        choice = c.pick(["replacement", "refund"])
        c.bot(f"Thank you, I've got the photo for order {number}.",
              f"I've arranged a replacement {item.name}; it ships today and you'll get tracking by email." if choice == "replacement"
              else f"Would you prefer a replacement or a refund of {money(item.price)}?",
              "There's no need to send the damaged one back — please recycle it.")
        if choice == "refund":
            c.user(c.pick(["A refund please.", "I'll take the refund.", "Refund, thanks."]))
            c.bot(f"Done — {money(item.price)} is on its way back to your original payment method and should show up within 5–7 business days.")
    elif problem == "wrong":
        other = c.pick([p for p in GEAR if p is not item])
        c.user(c.pick([f"I ordered the {item.name} but got the {other.name} instead.",
                       f"You sent me the wrong thing! I got a {other.kind}, I wanted the {item.name}."]))
        c.bot("Sorry about the mix-up!", c.ask_number(lead=False))
        c.user(c.give_number(number))
        c.bot(f"Thanks. I'm sending the {item.name} out today at no cost, and you'll get a prepaid return label for the {other.name} by email.",
              "Please send it back within 30 days, using the original packaging if you still have it.")
    else:
        c.user(c.pick([f"My parcel arrived but the {item.name} is missing from it.", f"Only part of my order came — no {item.kind}."]))
        c.bot(c.ask_number("I'm sorry about that. "))
        c.user(c.give_number(number))
        if c.chance(0.5):
            c.bot(f"Thanks. Order {number} was split into two parcels: the {item.name} shipped separately and should arrive within {STD}.",
                  track_hint(c))
        else:
            c.bot(f"Thanks for checking. I'm sending the missing {item.name} for order {number} today by express shipping ({EXP}), free of charge.")
    if c.chance(0.3):
        c.thanks_exchange()
