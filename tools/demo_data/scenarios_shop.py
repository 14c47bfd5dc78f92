"""Conversations about products and advice, payments, accounts, and contact details."""

from __future__ import annotations

from chatkit import Chat, join_items
from shop import (
    BY_NAME, DELETE_ACCOUNT_DAYS, EMAIL, EMAIL_REPLY, FREE_SHIPPING_OVER, GIFT_CARD_AMOUNTS, HOURS,
    PAYMENT_METHODS, PHONE, POINTS_FOR_5_OFF, PRODUCTS, RESET_LINK_VALID, WEBSITE, WELCOME_CODE, money,
    shipping_for,
)

KITS = {
    "pour-over": (["Aurora Pour-Over Kettle", "Pebble Coffee Scale", "Paper Filters (100 pack)"],
                  ["I'm getting into pour-over coffee. What do I need?", "What would you recommend for a pour-over beginner?",
                   "I want to start making pour-over at home, any suggestions?"]),
    "espresso": (["Ember Espresso Machine", "Meridian Burr Grinder"],
                 ["I want to make espresso at home. What should I buy?", "What's your setup for espresso?",
                  "Can you recommend an espresso setup?"]),
    "tea": (["Aurora Pour-Over Kettle", "Willow Tea Infuser Mug"],
            ["I mostly drink loose-leaf tea. What do you have for me?", "Any recommendations for a tea drinker?"]),
    "cold brew": (["Cascade Cold Brew Jar", "Harbor Blend Coffee Beans (1 kg)"],
                  ["I'd like to make cold brew this summer. What do I need?", "What's good for cold brew?"]),
    "latte": (["Ember Espresso Machine", "Fjord Milk Frother"],
              ["I love lattes. What would you suggest?", "What do I need for milky coffee drinks at home?"]),
    "french press": (["Drift French Press", "Meridian Burr Grinder", "Harbor Blend Coffee Beans (1 kg)"],
                     ["What's a good French press setup?", "I like strong, full-bodied coffee. What should I get?"]),
}
WHY = {
    "Aurora Pour-Over Kettle": "for precise pouring at the right temperature",
    "Pebble Coffee Scale": "to weigh coffee and time your brew",
    "Paper Filters (100 pack)": "to get started",
    "Ember Espresso Machine": "for café-style shots and steamed milk",
    "Meridian Burr Grinder": "because fresh, even grounds make the biggest difference",
    "Willow Tea Infuser Mug": "to steep leaves right in your cup",
    "Cascade Cold Brew Jar": "which makes 1.5 litres at a time",
    "Harbor Blend Coffee Beans (1 kg)": "because its smooth medium roast works great",
    "Fjord Milk Frother": "for extra-foamy milk",
    "Drift French Press": "which keeps the pot hot for an hour",
}


def product_question(c: Chat) -> None:
    kind = c.pick(["price", "price", "about", "kit", "kit", "gift", "compare", "stock", "cheapest"])
    if kind == "price":
        p = c.pick(PRODUCTS)
        c.user(c.pick([f"How much is the {p.name}?", f"What does the {p.short or p.name} cost?",
                       f"Price of the {p.name}?", f"What's the price for the {p.name}?"]))
        c.bot(f"The {p.name} is {money(p.price)}.", f"It's {p.blurb}.",
              c.pick(["", f"Standard shipping is free on orders over {money(FREE_SHIPPING_OVER)}."]))
        if c.chance(0.4) and not p.consumable:
            c.user(c.pick(["Does it come with a warranty?", "What if it breaks?"]))
            c.bot(f"Yes, the {p.name} has a {p.warranty_years}-year warranty against defects, counted from delivery.")
    elif kind == "about":
        p = c.pick(PRODUCTS)
        c.user(c.pick([f"Tell me about the {p.name}.", f"What's special about the {p.short or p.name}?",
                       f"Is the {p.name} any good?"]))
        c.bot(f"The {p.name} is {p.blurb}.", f"It costs {money(p.price)}.",
              c.pick(["Customers love it.", "It's one of our most popular items.", ""]))
    elif kind == "kit":
        name = c.pick(list(KITS))
        items, asks = KITS[name]
        products = [BY_NAME[n] for n in items]
        total = sum(p.price for p in products)
        c.user(c.pick(asks))
        lines = "; ".join(f"the {p.name} ({money(p.price)}) {WHY[p.name]}" for p in products)
        c.bot(c.pick(["Good question!", "Happy to help you pick.", "Sounds fun!", ""]),
              f"I'd suggest {lines}.",
              f"Together that's {money(total)}" + (", and standard shipping is free." if total > FREE_SHIPPING_OVER
                                                   else f", plus {money(shipping_for(total))} standard shipping."))
        if c.chance(0.5):
            core = products[0]
            c.user(c.pick(["That's a bit over my budget. What can I skip?", "Which one matters most?",
                           "If I can only buy one, which should it be?"]))
            c.bot(f"The {core.name} is the one you can't do without; on its own it's {money(core.price)}.",
                  c.pick(["You can add the others later.", "The rest can wait until you're ready."]),
                  f"Shipping is free on orders over {money(FREE_SHIPPING_OVER)}." if core.price > FREE_SHIPPING_OVER
                  else f"Standard shipping on that alone would be {money(shipping_for(core.price))}.")
    elif kind == "gift":
        budget = c.pick([25, 30, 40, 50, 100])
        options = [p for p in PRODUCTS if p.price <= budget and p.price >= 10]
        c.user(c.pick([f"I need a gift for a coffee lover, under ${budget}.", f"Gift ideas below ${budget}?",
                       f"What can I get my dad for around ${budget}? He loves coffee."]))
        picks = sorted(c.rng.sample(options, min(3, len(options))), key=lambda p: p.price)
        c.bot(c.pick(["Lovely idea!", "A few favourites:", "Here are some ideas:"]),
              f"Within ${budget} you could go for {join_items(p.label for p in picks)}.",
              c.pick([f"Or a gift card — we have them for {join_items('$' + str(a) for a in GIFT_CARD_AMOUNTS)}, and they never expire.", ""]))
    elif kind == "compare":
        c.user(c.pick(["What's the difference between the French press and the pour-over kettle?",
                       "French press or pour-over, which should I get?"]))
        press, kettle = BY_NAME["Drift French Press"], BY_NAME["Aurora Pour-Over Kettle"]
        c.bot(f"They make quite different coffee. The {press.name} ({money(press.price)}) brews a rich, full-bodied cup and is very forgiving.",
              f"Pour-over with the {kettle.name} ({money(kettle.price)}) gives a cleaner, brighter cup but takes a bit more technique.",
              "If you want easy and bold, go for the press; if you enjoy the ritual, pour-over.")
    elif kind == "stock":
        p = c.pick(PRODUCTS)
        c.user(c.pick([f"Is the {p.name} in stock?", f"Do you have the {p.short or p.name} available right now?"]))
        c.bot(f"Yes, the {p.name} is in stock.", "Order before 2 pm Eastern Time on a business day and it ships the same day.")
    else:
        c.user(c.pick(["What's the cheapest grinder you sell?", "Do you have a cheaper grinder?"]))
        g = BY_NAME["Meridian Burr Grinder"]
        c.bot(f"We carry one grinder, the {g.name}, at {money(g.price)}. It's {g.blurb}, so it covers every brew method.")
    if c.chance(0.2):
        c.thanks_exchange()


def payment_question(c: Chat) -> None:
    kind = c.pick(["methods", "charged", "code", "code_late", "declined", "giftcard", "points", "currency"])
    if kind == "methods":
        c.user(c.pick(["What payment methods do you accept?", "Can I pay with PayPal?", "Do you take Amex?",
                       "Can I pay cash on delivery?"]))
        c.bot(f"We accept {join_items(PAYMENT_METHODS)}.", "We don't offer cash on delivery or bank transfers.")
    elif kind == "charged":
        c.user(c.pick(["When will my card be charged?", "I see a pending charge but my order hasn't shipped. Why?"]))
        c.bot("Your card is authorised at checkout and only charged when the order ships.",
              "Until then you may see a pending amount; if the order is cancelled, the hold simply drops off, depending on your bank.")
    elif kind == "code":
        question = c.pick(["Do you have any discount codes?", "Is there a discount for first-time customers?",
                           "Can I use two promo codes on one order?"])
        c.user(question)
        welcome = f"New customers get 10% off their first order with the code {WELCOME_CODE} at checkout."
        if "two" in question:
            c.bot("Sorry, only one code can be used per order.", welcome)
        else:
            c.bot(welcome, "Only one code can be used per order.")
        if c.chance(0.4):
            p = c.pick([p for p in PRODUCTS if p.price >= 40])
            c.user(f"So how much would the {p.name} be with it?")
            c.bot(f"The {p.name} is {money(p.price)}, so with 10% off it comes to {money(round(p.price * 0.9, 2))}.")
    elif kind == "code_late":
        c.user(c.pick(["I forgot to use my discount code! Can you apply it now?", "My promo code didn't get applied. Can you add it?"]))
        c.bot("I'm sorry, codes can only be applied at checkout, so I can't add one to a placed order.",
              "If your order is less than 1 hour old, though, you can cancel it and place it again with the code.")
    elif kind == "declined":
        c.user(c.pick(["My card keeps getting declined.", "The payment failed at checkout, what's wrong?"]))
        c.bot("Sorry about that! The most common causes are a billing address that doesn't match the card, an expired card, or the bank blocking an online payment.",
              "Please double-check the address, or try PayPal or Apple Pay. If it keeps failing, your bank can tell you why they declined it.")
    elif kind == "giftcard":
        c.user(c.pick(["Do you sell gift cards?", "Do your gift cards expire?", "Can I combine a gift card with my credit card?"]))
        c.bot(f"Yes! Gift cards come in {join_items('$' + str(a) for a in GIFT_CARD_AMOUNTS)}, never expire, and are delivered by email.",
              "You can combine a gift card with any other payment method at checkout.")
    elif kind == "points":
        c.user(c.pick(["How do Bean Points work?", "Do you have a loyalty program?"]))
        spend = c.pick([60, 89, 120, 150, 250])
        c.bot(f"With Bean Points you earn 1 point for every dollar you spend, and every {POINTS_FOR_5_OFF} points give you $5 off at checkout.",
              f"For example, a {money(spend)} order earns {spend} points." if c.chance(0.6) else "You'll need an account to collect them.")
    else:
        c.user(c.pick(["Are your prices in US dollars?", "I'm in Canada, which currency will I be charged in?"]))
        c.bot("All prices are in US dollars, and orders to Canada are charged in US dollars as well; your bank converts the amount.")
    if c.chance(0.2):
        c.thanks_exchange()


def account_question(c: Chat) -> None:
    kind = c.pick(["reset", "reset", "email", "delete", "guest", "history", "newsletter"])
    if kind == "reset":
        c.user(c.pick(["I forgot my password.", "How do I reset my password?", "I can't log in to my account."]))
        c.bot(f"Click 'Forgot password' on the sign-in page at {WEBSITE} and we'll email you a reset link.",
              f"The link is valid for {RESET_LINK_VALID}.")
        if c.chance(0.6):
            c.user(c.pick(["I didn't get the email.", "The reset email never arrived.", "The link says it's expired."]))
            c.bot("Please check your spam folder and make sure it's the address you signed up with.",
                  f"If the link has expired, just request a new one — each link works for {RESET_LINK_VALID}. Still stuck? Email {EMAIL} and we'll help.")
    elif kind == "email":
        c.user(c.pick(["How do I change the email on my account?", "I have a new email address, can I update it?"]))
        c.bot("Sign in and go to Account → Settings → Email. We'll send a confirmation link to the new address, and the change takes effect once you click it.")
    elif kind == "delete":
        c.user(c.pick(["Please delete my account.", "How can I close my account?"]))
        c.bot(f"I can arrange that. Please email {EMAIL} from the address on your account, and we'll delete it within {DELETE_ACCOUNT_DAYS} days.",
              "Note that any unused Bean Points are lost when the account is deleted.")
    elif kind == "guest":
        c.user(c.pick(["I checked out as a guest. Can I still see my order?", "Do I need an account to order?"]))
        c.bot("You don't need an account — guest checkout works fine, and you can track any order at "
              f"{WEBSITE}/track with the order number and email.",
              "If you later create an account with the same email, your guest orders appear in it automatically.")
    elif kind == "history":
        c.user(c.pick(["Where can I see my past orders?", "How do I download an invoice?"]))
        c.bot("Sign in and open 'My orders'. Every order there has its details, tracking and a 'Download invoice' button.")
    else:
        c.user(c.pick(["How do I stop your marketing emails?", "Please unsubscribe me from the newsletter."]))
        c.bot("You can unsubscribe with the link at the bottom of any newsletter, or under Account → Settings → Notifications.",
              "Order and shipping emails still come through, so you won't miss updates.")
    if c.chance(0.2):
        c.thanks_exchange()


def contact_question(c: Chat) -> None:
    kind = c.pick(["hours", "hours", "phone", "shop", "email"])
    if kind == "hours":
        c.user(c.pick(["What are your opening hours?", "When is customer service available?",
                       "Are you open on Sundays?", "What time does support close on Saturday?"]))
        c.bot(f"Our support team is available {HOURS}.", c.pick([f"You can also email {EMAIL} any time.", ""]))
    elif kind == "phone":
        c.user(c.pick(["Can I call you?", "What's your phone number?"]))
        c.bot(f"Sure, you can call us at {PHONE}, {HOURS}.")
    elif kind == "shop":
        c.user(c.pick(["Do you have a physical store I can visit?", "Where is your shop? I'd like to see the grinder in person."]))
        c.bot("We're an online-only shop, so there's no store to visit, sorry!",
              f"But you can return unused items within 30 days of delivery, so you can try things at home.")
    else:
        c.user(c.pick(["How fast do you answer emails?", "I emailed you yesterday, when will I get an answer?"]))
        c.bot(f"We reply to emails at {EMAIL} {EMAIL_REPLY}.", f"Our team works {HOURS}.")
    if c.chance(0.2):
        c.thanks_exchange()


def brewing_tip(c: Chat) -> None:
    kind = c.pick(["cold brew", "french press", "descale", "grind"])
    if kind == "cold brew":
        c.user(c.pick(["How do I make cold brew with the Cascade jar?", "What ratio should I use for cold brew?"]))
        c.bot("Use a coarse grind and about 1 part coffee to 8 parts cold water — for the 1.5-litre Cascade jar that's roughly 180 g of coffee.",
              "Steep it in the fridge for 12 to 18 hours, then lift out the filter. It keeps for about a week.")
    elif kind == "french press":
        c.user(c.pick(["Any tips for the Drift French Press?", "My French press coffee tastes muddy. Help?"]))
        c.bot("Use a coarse grind, about 60 g of coffee per litre of water just off the boil, and steep for 4 minutes.",
              "Muddy coffee usually means the grind is too fine; on the Meridian grinder, try a setting in the mid-30s.")
    elif kind == "descale":
        c.user(c.pick(["How often should I descale my kettle?", "How do I descale the Ember?"]))
        c.bot("Every 1 to 3 months, depending on how hard your water is.",
              "Our Descaling Kit ($12.00) has enough for six cycles; follow the card in the box, then rinse with two full tanks of fresh water.")
    else:
        c.user(c.pick(["Which grind setting should I use on the Meridian for pour-over?", "What grind size for espresso?"]))
        c.bot("The Meridian has 40 settings: espresso is around 1–8, pour-over around 14–20, and French press in the mid-30s.",
              "Adjust one or two steps at a time: finer if the coffee tastes sour, coarser if it tastes bitter.")
    if c.chance(0.2):
        c.thanks_exchange()
