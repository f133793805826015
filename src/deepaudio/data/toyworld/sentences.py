"""Sentences the toy world's voices speak.

Source: written for deepaudio by its authors (released with the project under its MIT licence); no
external text was used. They are short everyday English sentences (4-11 words) so that one fits in a
4-8 s clip with every voice, and they use plain words that every synthesiser (piper, flite,
espeak-ng) pronounces. Splits take disjoint subsets of this list (see ``splits.py``).
"""

from __future__ import annotations

SOURCE = "deepaudio toy world sentence list (written for this project, MIT)"

SENTENCES: tuple[str, ...] = tuple(
    line.strip()
    for line in """
The kettle is boiling in the kitchen.
Please close the window before it rains.
My brother left his keys on the table.
We walked to the market this morning.
The bus was late again today.
She keeps her bicycle in the garden shed.
Could you pass me the salt, please?
The children are playing in the park.
I forgot to water the plants yesterday.
The dog barked at the postman.
Our train leaves at half past nine.
He painted the fence a bright blue.
There is fresh bread on the counter.
The library closes early on Sundays.
I like my coffee with a little milk.
The cat is sleeping on the warm rug.
Turn left at the end of the road.
The soup needs a pinch more pepper.
We should leave before the traffic starts.
My phone battery is almost empty.
The river was cold but very clear.
She wrote a long letter to her aunt.
The baker opens his shop at six.
Let us meet at the corner cafe.
The wind blew the hat off his head.
I found an old coin in the sand.
The lamp in the hall is broken.
They planted tomatoes along the wall.
The meeting will start in ten minutes.
Please hang your coat by the door.
The snow melted by the afternoon.
He always whistles while he cooks.
The shop sells apples and pears.
We watched the boats come into the harbour.
My grandmother knits warm winter socks.
The clock on the tower struck noon.
Bring an umbrella, the sky looks grey.
The neighbours are having a party tonight.
I need to buy stamps at the post office.
The little bird built a nest in the tree.
She laughed at the silly joke.
The car would not start this morning.
The new teacher is very kind.
Put the milk back in the fridge.
The road was quiet after midnight.
We ate sandwiches on the hill.
The farmer fed the hungry goats.
My sister plays the piano every evening.
A strong wind is coming from the north.
The floor is wet, so please be careful.
He lost his glove on the way home.
The museum has a room full of clocks.
Dinner will be ready in five minutes.
The kids built a castle out of boxes.
I am reading a book about the sea.
The paint is still wet on the door.
They sang songs around the fire.
The price of bread went up again.
Please speak a little more slowly.
The garden smells of roses in June.
The ship sailed away at dawn.
I will call you when I get home.
The printer ran out of paper.
A small boat drifted past the pier.
Our team won the match on Saturday.
The cupboard is full of old jars.
He carried the heavy box upstairs.
The sun is setting behind the hills.
She tied a red ribbon in her hair.
The tea has gone cold.
We need more chairs for the guests.
The road to the village is very narrow.
My uncle fixes bicycles for a living.
The baby is finally asleep.
The leaves turn yellow in autumn.
I heard thunder far away.
The fish swam under the bridge.
Please write your name at the top.
The bell rang and everyone went inside.
He forgot his lunch on the bus.
The window looks out over the field.
The oven takes a while to warm up.
A man was selling balloons in the square.
She poured water into the blue glass.
The stairs creak when you step on them.
We counted the stars from the roof.
The apples are ripe and sweet.
The radio played an old song.
He swept the leaves from the path.
The horse trotted down the lane.
Keep the receipt in case it breaks.
The city lights shine at night.
She borrowed a ladder from next door.
The pond freezes every winter.
Our flight was delayed by an hour.
The pencil needs to be sharpened.
I left the lights on in the car.
The owl hooted from the barn.
The soup is too hot to eat.
The market is busy on Fridays.
Please knock before you come in.
The candle burned down to the end.
He tied his boat to the post.
The jam jar is hard to open.
The wind chimes rang softly.
The path goes down to the beach.
The guests arrived just after seven.
She keeps a diary by her bed.
The clouds are moving very fast.
The hammer is in the top drawer.
We planted a tree for the new baby.
The kitten chased a ball of wool.
The orange juice is in the door of the fridge.
Please turn the music down a little.
The bridge was built a long time ago.
My shoes are covered in mud.
The frogs were loud by the pond.
The doctor will see you now.
They painted the boat bright red.
The soup kitchen feeds many people.
Your parcel arrived this afternoon.
I like to walk along the river.
The cake needs another ten minutes.
The glass fell and broke on the floor.
He always reads the paper at breakfast.
The fire alarm went off by mistake.
We heard the waves from our room.
The workers fixed the road overnight.
The chair by the window is mine.
She forgot to lock the back door.
The tram stops right outside the hotel.
A cold drink would be lovely now.
The wooden spoon is next to the stove.
I can smell smoke from the chimney.
The blue car is parked across the street.
The boy kicked the ball over the fence.
The shop on the corner sells fresh fish.
The shelf is too high for me to reach.
The rain stopped just before lunch.
He rode his horse across the field.
Please wipe your feet on the mat.
The crowd cheered when the band came on.
The train was full of tired people.
Her garden is full of sunflowers.
The tap in the bathroom keeps dripping.
We played cards until late at night.
The farmer drove his tractor to town.
My coffee cup is on the desk.
The sheep are grazing on the hill.
The bread is baked fresh every day.
The old man fed the pigeons.
The school bus is painted yellow.
The key is hidden under the pot.
I need a new pair of gloves.
The boat rocked gently on the water.
She hummed a tune while she worked.
The dinner plates are in the sink.
The porch light is on all night.
He mended the hole in his jacket.
The strawberries are ready to pick.
The sky turned pink at sunset.
Please put the books back on the shelf.
The phone rang twice and then stopped.
We drove to the coast for the weekend.
The ice cream melted in the sun.
The goat ate the washing off the line.
She opened the curtains to let the light in.
The bakery smells wonderful in the morning.
The train whistle echoed through the valley.
My keys are in my coat pocket.
The puppy chewed my slipper.
The lake was calm and still.
Let us have soup for supper.
The gate squeaks when it opens.
The children painted pictures of the sea.
I saw a fox in the garden last night.
The ferry crosses the bay every hour.
He wore a warm hat and a scarf.
The tomatoes are growing very well.
The kettle whistled loudly.
Please fill the jug with water.
The hallway needs a new carpet.
We waited for the rain to pass.
The mechanic checked the tyres.
She carried a basket of eggs.
The road sign was hard to read.
The picnic blanket is in the car.
The moon was bright and round.
He drank a glass of cold milk.
The office is on the second floor.
The wind knocked over the bin.
My friend sent me a postcard.
The little shop sells toys and sweets.
A bee landed on the flower.
The ducks swam across the pond.
Please hold the door for me.
The lorry backed into the yard.
The bell on the bike is broken.
We had pancakes for breakfast.
The fence needs a new coat of paint.
""".strip().splitlines()
    if line.strip()
)
